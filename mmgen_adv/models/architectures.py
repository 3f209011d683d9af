"""Discriminators with a second head on the toolbox's SNGAN ResNet.

Both reuse ``ProjDiscriminator`` whole (blocks, spectral norm, its
initialisations) and add the head of
:class:`~mmgen_adv.methods.aux_head.AuxHeadMixin` on the pooled features
that its ``decision`` layer reads. ``forward`` returns the real/fake logit
as the toolbox's discriminators do; ``return_aux=True`` also returns the
second head's logits.
"""
from mmgen.models.architectures.sngan_proj import ProjDiscriminator
from mmgen.models.builder import MODULES

from ..methods.aux_head import AuxHeadMixin


class AuxHeadDiscriminator(AuxHeadMixin, ProjDiscriminator):
    """``ProjDiscriminator`` plus a linear head of ``aux_classes`` outputs.

    Args:
        aux_classes (int): Outputs of the second head.
        Others: as ``ProjDiscriminator``.
    """

    def __init__(self, input_scale, aux_classes, *args, pretrained=None,
                 **kwargs):
        super().__init__(input_scale, *args, **kwargs)
        self.add_aux_head(aux_classes)
        if pretrained is not None:  # the weights hold a head too
            self.init_weights(pretrained)


@MODULES.register_module()
class SSGANDiscriminator(AuxHeadDiscriminator):
    """The SNGAN ResNet discriminator with SSGAN's rotation head (4-way,
    spectral-norm linear on the pooled features), as in compare_gan and
    mimicry. ``forward(x, return_aux=True)`` gives ``(logit, rotation)``.

    Args:
        num_rotations (int): Rotation classes. Defaults to 4.
        Others: as ``ProjDiscriminator``.
    """

    def __init__(self, input_scale, num_rotations=4, **kwargs):
        super().__init__(input_scale, num_rotations, **kwargs)
        self.num_rotations = num_rotations


@MODULES.register_module()
class ACDiscriminator(AuxHeadDiscriminator):
    """An auxiliary-classifier discriminator (Rob-GAN's ``ResNetAC``): the
    SNGAN ResNet with a real/fake logit and ``num_classes`` class logits.
    The class is predicted, not projected, so D takes no labels.

    Args:
        num_classes (int): Classes of the class head.
        Others: as ``ProjDiscriminator`` (without its projection).
    """

    def __init__(self, input_scale, num_classes, **kwargs):
        super().__init__(input_scale, num_classes, num_classes=0, **kwargs)
        self.num_aux_classes = num_classes

    def forward(self, x, label=None, return_aux=False):
        # the class is an output here; labels are not an input
        return super().forward(x, None, return_aux)
