"""Entry points (the only code that knows Hydra): srlab-train, srlab-eval, srlab-upscale."""
