"""The package version: the one place it is written (hatch reads it from here; ``haiku_finetune.__version__``).

This module must import nothing: ``haiku-finetune --version`` and the build backend read it cheaply.
"""

__version__ = "0.1.0.dev0"
