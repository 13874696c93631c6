"""The bottom layer of srlab: torch-only rules that every other layer shares.

Nothing here imports srlab outside :mod:`srlab.errors` and this package (``make lint`` checks it
with import-linter), so networks (:mod:`srlab.archs`), the LightningModules, export, MAC counting,
inference and evaluation can all use one copy:

- :mod:`srlab.core.imresize`: MATLAB's bicubic ``imresize`` and the one integer upscaler,
  :func:`~srlab.core.imresize.bicubic_upscale`;
- :mod:`srlab.core.color`: MATLAB's BT.601 colour conversions;
- :mod:`srlab.core.contract`: reading what a network declares (``scale``, ``scales``, ...) and
  what it returns;
- :mod:`srlab.core.rules`: the input rules, RGB LR -> network input -> RGB SR at a scale;
- :mod:`srlab.core.protocol`: the evaluation protocol (its name, its grey-file rule);
- :mod:`srlab.core.tiling`: seam-free tiling and the x8 self-ensemble of any SR function.

The modules are imported by name (``from srlab.core.rules import InputRules``); the package
re-exports nothing, so ``srlab.core.imresize`` stays the module.
"""
