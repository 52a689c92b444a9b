"""The KerasTuner internals keras_chargen relies on, in one place.

KerasTuner has no public hook for three things `keras_chargen.search`
needs from its oracles: the default configuration as the first trial,
JSON files written atomically, and a reload that does not run a finished
trial again. `OracleInternals` overrides the private oracle methods that do
them. `check_version()` warns once outside the KerasTuner versions they were
checked against (`TESTED_VERSIONS`), and `tests/tuning_compat_test.py`
asserts that every name in `ORACLE_METHODS` and `ORACLE_ATTRIBUTES` still
exists, with the same arguments, in the installed KerasTuner.

This module does not import `keras_tuner` at import time, so neither does
`import keras_chargen`.
"""

import functools
import json
import re
import warnings
from pathlib import Path

from keras_chargen.models.saving import replace_atomically

# (major, minor) releases this module was checked against: KerasTuner 1.4.x.
TESTED_VERSIONS = ((1, 4),)
# Private oracle methods used or overridden below -> their arguments.
ORACLE_METHODS = {
    "_random_values": (),
    "_duplicate": ("values",),
    "_get_oracle_fname": (),
    "_get_trial_dir": ("trial_id",),
    "_save_trial": ("trial",),
}
# Undocumented oracle attributes read or replaced here and in `results.py`.
ORACLE_ATTRIBUTES = ("_retry_queue", "start_order", "trials")


def unsupported_version_message(version):
    """`None` for a tested KerasTuner `version`, else why it may not work."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers in TESTED_VERSIONS:
        return None
    tested = ", ".join(f"{major}.{minor}.x" for major, minor in TESTED_VERSIONS)
    return (
        f"keras_chargen.search was tested with KerasTuner {tested} and overrides "
        f"some of its private oracle methods; KerasTuner {version} is installed. "
        "If the search fails or misbehaves, install a tested version "
        '(`pip install "keras-tuner>=1.4,<1.5"`).'
    )


@functools.cache
def check_version():
    """Warns (once per process) if the installed KerasTuner is not a tested one."""
    import keras_tuner

    message = unsupported_version_message(keras_tuner.__version__)
    if message:
        warnings.warn(message, stacklevel=3)


def write_json(path, data):
    """Writes `data` as JSON to `path`, atomically (the overrides below use it)."""
    replace_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(data)))


class OracleInternals:
    """Mixin for a KerasTuner oracle, first in the bases; overrides private methods.

    - The first configuration is the defaults (`build_char_lstm`'s where
      searched): the baseline every other trial has to beat.
    - `oracle.json` and `trial.json` are replaced atomically: KerasTuner
      writes them in place, and a kill mid-write would leave a truncated
      file that stops the project from reloading.
    - A reload drops finished trials from the retry queue: killed between
      two writes, an oracle lists a finished trial as running, and reloading
      would run it again.
    """

    def _random_values(self):
        defaults = {hp.name: hp.default for hp in self.hyperparameters.space}
        if not self._duplicate(defaults):
            return defaults
        return super()._random_values()

    def reload(self):
        super().reload()
        finished = ("COMPLETED", "FAILED")
        self._retry_queue = [
            i for i in self._retry_queue if self.trials[i].status not in finished
        ]

    def save(self):
        write_json(Path(self._get_oracle_fname()), self.get_state())

    def _save_trial(self, trial):
        folder = Path(self._get_trial_dir(trial.trial_id))
        write_json(folder / "trial.json", trial.get_state())
