"""Moved to ``casework_verify.leaf`` (the installable verifier); this is that module under its old name.

Only for code not yet importing the new name (pyproject's banned-api lists who may): it is the
same module object, not a copy, so there is still one implementation.
"""
import sys

import casework_verify.leaf
from casework_verify.leaf import *  # noqa: F403  (what type checkers see; at run time, the module itself)

sys.modules[__name__] = casework_verify.leaf
