# MMagic's DCGAN on stacked digits (1000 modes from scikit-learn's bundled
# digits, nothing downloaded), evaluated with the StackedDigits metric:
# configs/stacked_digits/dcgan.py of the mmgen host, as far as the two
# toolboxes' DCGANs allow. The same: architecture (G 128 / D 64 channels at
# 32x32, BatchNorm, 100-d Gaussian noise), the non-saturating loss, Adam
# 2e-4 (0.5, 0.999) for both, batch 64, one D step per G step, 1500
# iterations, 10,000 images evaluated every 375 with G in eval mode, the
# same training stacks and held-out real statistics. What differs: the
# initial weights and the data order (another random stream), the model
# sees BGR (MMagic's convention; the metric reads it back), and generated
# images reach the metric through [0, 255] (docs/evidence/results_hosts.md).
_base_ = 'mmagic::dcgan/dcgan_1xb128-300kiters_celeba-cropped-64.py'
custom_imports = dict(imports=['mmgen_adv.mmagic'], allow_failed_imports=False)

model = dict(
    # without adv_cfg, MMagic's own DCGAN update (tested bit for bit);
    # the ASGAN/DAT variants add adv_cfg (dcgan_asgan.py, dcgan_dat.py)
    type='AdvDCGAN',
    # stacks are RGB; MMagic's models (and its metrics) work in BGR
    data_preprocessor=dict(output_channel_order='BGR'),
    generator=dict(output_scale=32, base_channels=128),
    discriminator=dict(input_scale=32, base_channels=64))

stacked = dict(
    type='StackedDigitsDataset', img_size=32,
    pipeline=[dict(type='PackInputs')])
loader = dict(batch_size=64, num_workers=0, persistent_workers=False)
train_dataloader = dict(
    dataset=dict(
        _delete_=True, num_images=10000, split='train', seed=0, **stacked),
    **loader)
# generative metrics take only the batch size from here; real statistics
# come from held-out stacks inside the metric
val_dataloader = dict(
    dataset=dict(_delete_=True, num_images=64, split='test', seed=1,
                 **stacked),
    **loader)
test_dataloader = val_dataloader

train_cfg = dict(max_iters=1500, val_interval=375)
metrics = [dict(type='StackedDigits', fake_nums=10000, sample_model='orig')]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=1500, max_keep_ckpts=1, save_best=None))
custom_hooks = [
    dict(
        type='VisualizationHook',
        interval=1500,
        fixed_input=True,
        vis_kwargs_list=dict(type='GAN', name='fake_img'))
]
