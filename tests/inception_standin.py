"""A small TorchScript network with the StyleGAN Inception's call signature.

mmgen's FID calls ``net(uint8_images, return_features=True)`` and its IS
``net(uint8_images, no_output_bias=True)`` (expecting class probabilities).
Saved with ``torch.jit.save``, it goes through the toolbox's real loading
path (``torch.jit.load`` of ``inception_args.inception_path``).
"""
import torch
import torch.nn as nn


class InceptionStandIn(nn.Module):

    def __init__(self, feat_dim: int = 16, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, feat_dim, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(feat_dim, num_classes)

    def forward(self,
                x: torch.Tensor,
                return_features: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        feat = self.features(x.float() / 127.5 - 1.0)
        if return_features:
            return feat
        logits = self.fc(feat)
        if no_output_bias:
            logits = logits - self.fc.bias
        return torch.softmax(logits, dim=1)


def save_standin(path, seed=0):
    torch.manual_seed(seed)
    torch.jit.save(torch.jit.script(InceptionStandIn().eval()), str(path))
    return str(path)
