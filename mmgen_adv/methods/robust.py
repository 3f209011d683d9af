"""A discriminator's class head as a robust classifier (Rob-GAN, stage 2).

:func:`adversarial_finetune` trains the class head of an auxiliary-
classifier discriminator on PGD-attacked images, as Rob-GAN's fine-tuning
(``finetune.py``): attacked real images, plus, with a generator, attacked
generated images of sampled labels weighted by ``lam``. Without a generator
(and from a fresh network) it is plain PGD adversarial training (Madry et
al.), the baseline Rob-GAN compares against. :func:`accuracy_under_attack`
is the official evaluation: PGD-20 on the cross-entropy, no random start,
step eps/5, D in inference mode.

Budgets are in 8-bit gray levels; images in mmgen's [-1, 1] scale.
"""
import torch
import torch.nn.functional as F

from . import attacks
from .host import call_disc

# Rob-GAN's acc_under_attack.sh grid (in [-1, 1] units) in gray levels
OFFICIAL_EPS_GRID = tuple(
    round(e * 127.5, 3)
    for e in (0, 0.004, 0.01, 0.016, 0.02, 0.024, 0.03, 0.04))


def class_logits(disc, images):
    """The class head's logits of an auxiliary-classifier D."""
    return call_disc(disc, images, aux=True)[1]


def pgd_on_classes(disc, images, labels, eps, steps, mode='eval'):
    """PGD (step ``eps / 5``) that increases the class cross-entropy."""
    if eps == 0 or steps == 0:
        return images.detach()
    return attacks.pgd(
        disc,
        images,
        lambda logits: F.cross_entropy(logits, labels),
        attacks.gray_levels(eps),
        attacks.gray_levels(eps) / 5,
        steps,
        mode=mode,
        forward=lambda x: class_logits(disc, x))


def on_device(batches, module):
    """``batches`` of ``(images, labels)`` moved to ``module``'s device."""
    device = next(module.parameters()).device
    for images, labels in batches:
        yield images.to(device), labels.to(device)


def accuracy_under_attack(disc, batches, eps_grid=OFFICIAL_EPS_GRID,
                          steps=20):
    """Class-head accuracy of the bare ``disc`` on ``batches`` of
    ``(images, labels)`` under PGD-``steps`` at each budget of ``eps_grid``
    (gray levels)."""
    correct = {eps: 0 for eps in eps_grid}
    total = 0
    with attacks.untouched(disc, 'eval'):
        for images, labels in on_device(batches, disc):
            total += labels.numel()
            for eps in eps_grid:
                adv = pgd_on_classes(disc, images, labels, eps, steps, 'eval')
                with torch.no_grad():
                    pred = class_logits(disc, adv).argmax(dim=1)
                correct[eps] += (pred == labels).sum().item()
    return {eps: correct[eps] / max(total, 1) for eps in eps_grid}


def adversarial_finetune(disc,
                         batches,
                         iterations,
                         eps,
                         attack_steps=5,
                         lr=1e-3,
                         generator=None,
                         num_classes=None,
                         lam=0.0,
                         log=None,
                         log_interval=50,
                         start=0,
                         optimizer_state=None,
                         after_step=None):
    """Train the class head (and body) of ``disc`` on PGD-attacked images.

    Args:
        disc (nn.Module): A discriminator with ``return_aux`` class logits.
        batches (iterator): Yields ``(images, labels)`` forever.
        iterations (int): Optimizer steps.
        eps (float): Attack budget in gray levels (step ``eps / 5``).
        attack_steps (int): PGD steps per batch (official: 5; the attack
            runs with D in training mode, as the official fine-tuning).
        lr (float): Adam learning rate (official: 1e-3).
        generator (nn.Module, optional): A conditional generator; its
            attacked images of sampled labels are added with weight ``lam``.
        lam (float): Weight of the generated images' loss (official 0.3-0.8).
        log (callable, optional): Called with a dict every ``log_interval``.
        start (int): Steps already done (a resumed run); ``batches`` and the
            random generators must be where they were after them.
        optimizer_state (dict, optional): Adam's state after ``start`` steps.
        after_step (callable, optional): Called as ``after_step(steps_done,
            optimizer)`` after every step (checkpoints, stopping).

    Returns:
        dict: The last logged values (empty without ``log``).
    """
    optimizer = torch.optim.Adam(disc.parameters(), lr=lr)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    disc.train()
    batches = on_device(batches, disc)
    stats = {}
    for it in range(start, iterations):
        images, labels = next(batches)
        adv_real = pgd_on_classes(disc, images, labels, eps, attack_steps,
                                  'train')
        logits = class_logits(disc, adv_real)
        loss_real = F.cross_entropy(logits, labels)
        loss, loss_fake = loss_real, None
        if generator is not None and lam > 0:
            fake_labels = torch.randint(
                0, num_classes, labels.shape, device=labels.device)
            with torch.no_grad():
                fakes = generator(
                    None, num_batches=labels.numel(), label=fake_labels)
            adv_fake = pgd_on_classes(disc, fakes, fake_labels, eps,
                                      attack_steps, 'train')
            loss_fake = F.cross_entropy(
                class_logits(disc, adv_fake), fake_labels)
            loss = loss + lam * loss_fake
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if log is not None and ((it + 1) % log_interval == 0
                                or it + 1 == iterations):
            stats = dict(
                iter=it + 1,
                loss=loss.item(),
                loss_real=loss_real.item(),
                adv_acc_real=(logits.argmax(1) == labels).float().mean()
                .item())
            if loss_fake is not None:
                stats['loss_fake'] = loss_fake.item()
            log(stats)
        if after_step is not None:
            after_step(it + 1, optimizer)
    return stats
