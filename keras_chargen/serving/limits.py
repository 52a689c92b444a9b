"""`Limits`: what one request may ask of the server (standard library only).

Kept apart from the app so that `keras-chargen --help` can show the
defaults without the `serve` extra installed.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how many may run at once.

    Attributes:
        max_length: most characters a request may generate per prompt
            (more: 413).
        max_prompt_chars: most characters in one prompt or scored text
            (more: 413).
        max_prompts: most prompts (or texts) in one request (more: 413).
        max_concurrent: most requests running at once (more: 429).
    """

    max_length: int = 2000
    max_prompt_chars: int = 4000
    max_prompts: int = 16
    max_concurrent: int = 128

    @property
    def max_body_bytes(self):
        """The largest request body read (more: 413 before it is parsed)."""
        # Room for every prompt and its prompt context written with \uXXXX
        # surrogate-pair escapes (12 bytes a character), plus the settings.
        return 12 * self.max_prompt_chars * self.max_prompts * 2 + 65536
