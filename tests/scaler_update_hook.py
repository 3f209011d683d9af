"""Test helper: counts the fp16 loss scaler's ``update()`` calls in each
runner iteration (the runner's own after ``train_step`` and any the model
makes inside it) and writes them, with the scale, to
``<work_dir>/scaler_updates.json``."""
import json
import os.path as osp

from mmcv.runner import HOOKS, Hook


@HOOKS.register_module()
class CountScalerUpdatesHook(Hook):

    def before_run(self, runner):
        scaler = runner.loss_scaler  # the runner's fp16_loss_scaler
        update = scaler.update
        self.calls, self.per_iteration, self.scales = 0, [], []

        def counted_update(*args, **kwargs):
            self.calls += 1
            return update(*args, **kwargs)

        scaler.update = counted_update

    def before_train_iter(self, runner):
        self.calls = 0

    def after_train_iter(self, runner):
        self.per_iteration.append(self.calls)
        self.scales.append(runner.loss_scaler.get_scale())

    def after_run(self, runner):
        with open(osp.join(runner.work_dir, 'scaler_updates.json'), 'w') as f:
            json.dump(dict(per_iteration=self.per_iteration,
                           scales=self.scales), f)
