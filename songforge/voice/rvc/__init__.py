"""RVC v2 inference of our own: the voice's synthesizer (model, layers, nsf), its loader (voice), ContentVec
features (features), F0 (rmvpe, f0), the feature index (index) and the pipeline that joins them (pipeline)."""
