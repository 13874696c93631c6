"""MOS study: rate SR outputs of several models in the browser, then report MOS with CIs.

- :mod:`.db`: the SQLite study (images, raters, their stored random orders, unique votes).
- :mod:`.app`: the Flask rating app, served by waitress (``srlab-mos serve``).
- :mod:`.report`: MOS per model with Student-t 95% intervals, markdown + PNG chart.
- :mod:`.cli`: ``srlab-mos create | invite | revoke | raters | serve | report``.

Flask, waitress and matplotlib come with the ``mos`` extra (``pip install -e '.[mos]'``).
"""

from .db import Rater, Study, VoteError, create_study
from .report import Exclusion, mos_table, write_report

__all__ = ["Exclusion", "Rater", "Study", "VoteError", "create_study", "mos_table", "write_report"]
