"""script/arm-check: print a WAV file's rate, length and peak; fail unless it holds sound."""

from __future__ import annotations

import sys
import wave

import numpy as np

with wave.open(sys.argv[1]) as w:
    rate, frames = w.getframerate(), w.readframes(w.getnframes())
pcm = np.frombuffer(frames, dtype=np.int16)
seconds = len(pcm) / rate
peak = int(np.abs(pcm.astype(np.int32)).max()) if len(pcm) else 0
print(f"{sys.argv[1]}: {rate} Hz, {seconds:.2f} s, peak {peak}")
sys.exit(0 if seconds > 0.3 and peak > 1000 else 1)
