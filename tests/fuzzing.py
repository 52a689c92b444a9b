"""The two budgets of the fuzz tests (`*fuzz*_test.py`), defined once.

`@fuzz(strategies...)` is `@given` twice over one test body: the test itself
is the short run of the default suite (few, fixed examples, so that it takes
seconds and fails the same way every time), and its `.large` attribute is
the same property on many random examples, marked `large`. A fuzz module
exposes it as `test_<name>_large = test_<name>.large`.

Examples are not stored (`database=None`): a failure prints its minimal
input, which goes into the test file as an `@example` or a test of its own.
"""

import pytest
from hypothesis import HealthCheck, given, settings

SHORT_EXAMPLES = 30
LARGE_EXAMPLES = 12_000

_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(*strategies, short=SHORT_EXAMPLES, large=LARGE_EXAMPLES, **named):
    """`@given(*strategies, **named)`, short by default, with a `.large` twin.

    Args:
        short: examples in the default suite. Defaults to `SHORT_EXAMPLES`.
        large: examples under `-m large`. Defaults to `LARGE_EXAMPLES`.
    """

    def decorate(body):
        test = settings(max_examples=short, derandomize=True, **_COMMON)(
            given(*strategies, **named)(body)
        )
        test.large = pytest.mark.large(
            settings(max_examples=large, **_COMMON)(given(*strategies, **named)(body))
        )
        return test

    return decorate
