"""Test helper: an auxiliary D loss that turns NaN at a chosen iteration."""
import torch
import torch.nn as nn
from mmgen.models.builder import MODULES


@MODULES.register_module()
class NaNFromIteration(nn.Module):

    def __init__(self, iteration):
        super().__init__()
        self.iteration = iteration

    def forward(self, outputs_dict):
        pred = outputs_dict['disc_pred_real']
        zero = pred.sum() * 0
        return zero + float('nan') if \
            outputs_dict['iteration'] >= self.iteration else zero

    @staticmethod
    def loss_name():
        return 'loss_probe'
