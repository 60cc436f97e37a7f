"""Average two trained readers' changes into one (a "model soup"; tried 2026-12-04, not shipped).

Both readers are low-rank adapters (rank r, alpha 2r) over the same base model. The average
of their changes, w * B1 A1 + (1 - w) * B2 A2, is exactly one adapter of rank 2r:
A = [A1; A2], B = [w B1, (1 - w) B2] (alpha 4r keeps the scale alpha / rank); the heads are
averaged. So the combination costs nothing at inference once merged.

    python eval/results/reader/tried-soup-and-logit-average/combine.py \
        rag/reader/weights /work/runs/hybrid-f32 OUT 0.5
    python -m eval.train_reader --calibrate-only --out OUT
"""
import hashlib
import json
import sys

import torch
from safetensors.torch import load_file, save_file

first, second, out, w = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
a, b = load_file(f"{first}/reader.safetensors"), load_file(f"{second}/reader.safetensors")
if set(a) != set(b):
    sys.exit(f"the two readers hold different tensors: {sorted(set(a) ^ set(b))[:3]}")
combined = {}
for key in a:
    x, y = a[key].float(), b[key].float()
    if key.endswith("lora_a"):
        value = torch.cat([x, y], 0)
    elif key.endswith("lora_b"):
        value = torch.cat([w * x, (1 - w) * y], 1)
    else:
        value = w * x + (1 - w) * y
    combined[key] = value.to(torch.float16).contiguous()
save_file(combined, f"{out}/reader.safetensors")
manifest = json.load(open(f"{first}/manifest.json", encoding="utf-8"))
rank = 2 * int(manifest["adapter"]["rank"])
manifest["adapter"] = {"rank": rank, "alpha": 2.0 * rank, "full_layers": 0, "dtype": "float16"}
manifest["weights_sha256"] = hashlib.sha256(open(f"{out}/reader.safetensors", "rb").read()).hexdigest()
json.dump(manifest, open(f"{out}/manifest.json", "w", encoding="utf-8"), ensure_ascii=False, indent=2)
print(f"wrote {out}/reader.safetensors (rank {rank}, sha256 {manifest['weights_sha256'][:12]})")
