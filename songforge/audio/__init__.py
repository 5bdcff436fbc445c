"""Audio as float32 numpy arrays shaped (samples, channels) plus a sample rate."""
