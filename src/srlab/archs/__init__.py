"""Super-resolution networks: plain ``nn.Module``s with keyword arguments (torch only)."""

from .base import SRNet, check_scale, is_multi_scale, net_scales
from .blocks import MeanShift, ResidualBlockNoBN, Upsampler
from .btsrn import BTSRN
from .carn import CARN, CARNM
from .cmsc import CMSC
from .discriminators import SRGANDiscriminator, VGGDiscriminator
from .drcn import DRCN
from .drrn import DRRN
from .edsr import EDSR, MDSR
from .enhancenet import EnhanceNet
from .espcn import ESPCN
from .fsrcnn import FSRCNN
from .idn import IDN
from .lapsrn import LapSRN, MSLapSRN
from .rcan import RCAN
from .rrdbnet import RRDBNet
from .selnet import SelNet
from .srcnn import SRCNN
from .srresnet import SRResNet
from .vdsr import VDSR

__all__ = ["SRNet", "check_scale", "is_multi_scale", "net_scales", "MeanShift", "ResidualBlockNoBN", "Upsampler", "VDSR", "FSRCNN", "EDSR", "MDSR", "CARN", "CARNM", "ESPCN", "SRCNN", "SRResNet", "EnhanceNet", "RRDBNet", "SRGANDiscriminator", "VGGDiscriminator", "BTSRN", "DRCN", "DRRN", "LapSRN", "MSLapSRN", "CMSC", "IDN", "SelNet", "RCAN"]
