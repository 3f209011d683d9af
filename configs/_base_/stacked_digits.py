# What every stacked-digits run shares (the studies of
# tools/benchmark_quality.py): the data (1000 modes from scikit-learn's
# bundled digits, nothing downloaded), 1500 iterations evaluated every 375
# with the StackedDigits metrics, the last checkpoint kept. An
# architecture's config takes them over its own base's settings by name
# (configs/stacked_digits/*.py): mmengine refuses a key that two bases set.
stacked = dict(type='StackedDigitsDataset', img_size=32)
stacked_digits = dict(
    data=dict(
        _delete_=True,
        samples_per_gpu=64,
        workers_per_gpu=0,
        train=dict(num_images=10000, split='train', seed=0, **stacked),
        val=dict(num_images=64, split='test', seed=1, **stacked),
        test=dict(num_images=64, split='test', seed=1, **stacked)),
    log_config=dict(interval=100),
    checkpoint_config=dict(interval=1500, by_epoch=False, max_keep_ckpts=1),
    custom_hooks=[
        dict(
            type='VisualizeUnconditionalSamples',
            output_dir='training_samples',
            num_samples=64,
            nrow=8,
            padding=2,
            interval=1500)
    ],
    evaluation=dict(
        _delete_=True,
        type='GenerativeEvalHook',
        interval=375,
        metrics=dict(type='StackedDigits', num_images=10000),
        sample_kwargs=dict(sample_model='orig'),
        save_best_ckpt=False),
    metrics=dict(
        _delete_=True,
        stacked_digits=dict(type='StackedDigits', num_images=10000)))
