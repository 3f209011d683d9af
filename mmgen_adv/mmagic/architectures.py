"""SSGAN's discriminator on MMagic's SNGAN ResNet: MMagic's
``ProjDiscriminator`` whole (blocks, spectral norm, its ``init_cfg``) plus
the rotation head of :class:`~mmgen_adv.methods.aux_head.AuxHeadMixin`,
as the mmgen host's ``SSGANDiscriminator``. MMagic's runner initialises the
head with the rest of D (its ``init_weights`` covers every linear layer)."""
from mmagic.models.editors.sagan import ProjDiscriminator
from mmagic.registry import MODELS

from ..methods.aux_head import AuxHeadMixin
from ..methods.rotation import NUM_ROTATIONS


@MODELS.register_module()
class SSGANDiscriminator(AuxHeadMixin, ProjDiscriminator):
    """MMagic's SNGAN ResNet discriminator with SSGAN's 4-way rotation
    head. ``forward(x, return_aux=True)`` gives ``(logit, rotation)``.

    Args:
        num_rotations (int): Rotation classes. Defaults to 4.
        Others: as MMagic's ``ProjDiscriminator``.
    """

    def __init__(self, input_scale, num_rotations=NUM_ROTATIONS,
                 pretrained=None, **kwargs):
        super().__init__(input_scale, **kwargs)
        self.add_aux_head(num_rotations)
        self.num_rotations = num_rotations
        if pretrained is not None:  # the weights hold a head too
            self.init_weights(pretrained)
