"""Training runs made safe around the toolbox: ``compat`` (mmgen 0.7.3 on
the pinned PyTorch), ``config``/``config_keys``/``signatures`` (configs
that inherit the toolbox's, every key checked), ``data_checks``,
``checkpoints`` and ``workdir`` (atomic, checked, one run per work dir),
``hooks`` (exact resume, SIGTERM, stalled ranks), ``cli``/``dist``/
``environment``/``run_log`` (the tools' conventions)."""
