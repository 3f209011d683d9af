"""The methods, independent of the toolbox that hosts them (PyTorch only).

Attacks are pure functions of a discriminator and a batch (``attacks``);
the regularizers own a discriminator update (``regularizers``) and make it
through a ``DiscStep`` (``disc_step``), which reaches the toolbox through a
host adapter (``host``); ``scores`` turns D's outputs into what attacks
raise; ``rotation`` is SSGAN's task (``aux_head`` its discriminator head),
``robust`` Rob-GAN's robust classifier; ``eps_schedule`` and ``probe`` are
what the hooks of both hosts compute.
"""
