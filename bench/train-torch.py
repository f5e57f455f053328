#!/usr/bin/python3
"""bench/train-torch.py: PyTorch's side of bench/train.

Trains torchvision's ResNet-50 or -101 (the peer a user would pick) on
random 224x224 batches with the same step as mli-train: forward,
sigmoid cross-entropy with positive weight 12 over the classes, backward,
momentum SGD with weight decay. Prints one line: mode, model, memory
format, images/s of the timed steps (median per step), the same in CPU
time (batch over the step's process CPU time divided by THREADS: the rate
the threads would reach with cores of their own, on a shared machine),
and then reports peak RSS via the parent's time(1).

  train-torch.py train|infer resnet50|resnet101 contiguous|channels_last STEPS BATCH THREADS
"""
import statistics
import sys
import time

import torch
import torchvision

mode, arch, fmt, steps, batch, threads = sys.argv[1:7]
steps, batch, threads = int(steps), int(batch), int(threads)
torch.set_num_threads(threads)
torch.manual_seed(1)
classes = 1000
model = getattr(torchvision.models, arch)(num_classes=classes)
memfmt = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
model = model.to(memory_format=memfmt)
x = torch.rand(batch, 3, 224, 224).to(memory_format=memfmt) * 2 - 1
t = (torch.rand(batch, classes) < 0.005).float()
loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.full((classes,), 12.0))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
rates, cpu_rates = [], []
if mode == "train":
    model.train()
    for i in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        if i:
            rates.append(batch / (time.perf_counter() - t0))
            cpu_rates.append(batch * threads / (time.process_time() - c0))
else:
    model.eval()
    with torch.no_grad():
        for i in range(steps + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            model(x)
            if i:
                rates.append(batch / (time.perf_counter() - t0))
                cpu_rates.append(batch * threads / (time.process_time() - c0))
print(mode, arch, fmt, "%.3f" % statistics.median(rates), "%.3f" % statistics.median(cpu_rates))
