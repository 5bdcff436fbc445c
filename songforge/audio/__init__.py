"""Audio as float32 numpy arrays shaped (samples, channels) plus a sample rate: files, loudness and spectrum
numbers, and the mix and master chains that steer by them."""
