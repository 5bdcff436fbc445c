"""ACE-Step 1.5's optional planner: a 5 Hz LM (a Qwen3 fine-tune; 0.6B, 1.7B, 4B) that writes a song's metadata,
then 5 audio codes a second that the DiT renders from. model: loading and the static-cache decoder; generate: the
two phases over token ids; prompt: the text (prompts, the metadata block); step: the `plan` step and plan.json.

Facts relied on, with their source (ace-step/ACE-Step-1.5 at f30aee4, unless named otherwise):
- The LM is transformers' Qwen3ForCausalLM with its tokenizer and chat_template.jinja in the main repository's
  `acestep-5Hz-lm-1.7B/` (acestep/model_downloader.py: MAIN_MODEL_REPO "ACE-Step/Ace-Step1.5" holds
  acestep-5Hz-lm-1.7B, the default LM; acestep/llm_inference.py `_load_pytorch_model`). The audio codes are
  tokens `<|audio_code_N|>`, N in 0..63999 (acestep/constrained_logits_processor.py, MAX_AUDIO_CODE).
- Prompting (acestep/llm_inference.py, build_formatted_prompt / build_formatted_prompt_with_cot; instruction
  from acestep/constants.py DEFAULT_LM_INSTRUCTION): see prompt.py. Two phases (generate_with_stop_condition):
  the metadata phase writes "<think>\\nbpm: ..\\ncaption: ..\\nduration: ..\\nkeyscale: ..\\nlanguage: ..\\n
  timesignature: ..\\n</think>" and stops at </think>; the code phase re-prompts with that block (re-written as
  sorted YAML, _format_metadata_as_cot) as the assistant's turn and samples codes. A value the user gave is forced
  by the constrained decoder; when bpm, key, time signature and duration are all given, the metadata phase is
  skipped. ComfyUI's ACE-Step 1.5 text encoder writes the same rendered prompt by hand ("...<think>\\n{metas}\\n
  </think>\\n\\n<|im_end|>\\n"), a second witness of the template's output.
- Guidance and sampling (acestep/inference.py GenerationParams): lm_temperature 0.85, lm_cfg_scale 2.0,
  lm_top_p 0.9, lm_top_k 0 (off), repetition penalty 1.0. CFG on raw logits, uncond + s (cond - uncond), the
  unconditional prompt of the code phase with an empty block "<think>\\n</think>" (negative prompt "NO USER
  INPUT" keeps the caption), of the metadata phase with the lyrics only; then the constrained processor, top-k,
  top-p, temperature, multinomial (llm_inference.py `_generate_with_cfg_custom`, `_apply_top_p_filter`,
  `_sample_tokens`). Code phase: only audio-code tokens and the end token allowed; the end token blocked until
  target_codes = int(duration x 5) codes, then forced (constrained_logits_processor.py CODES_GENERATION).
- Hand-off (huggingface/diffusers 0.42 src/diffusers/pipelines/ace_step/pipeline_ace_step.py): AceStepPipeline
  takes `audio_codes` ("<|audio_code_N|>..." strings); given codes, text2music becomes "cover" and the audio
  tokenizer's FSQ quantizer + detokenizer turn the 5 Hz codes into 25 Hz latents (pool_window_size 5) that
  condition the DiT, as upstream's handler turns them into its "LM hints" (acestep/handler.py
  `_decode_audio_codes_to_latents`, precomputed_lm_hints_25Hz; task switched to cover in generate_music). The
  render step passes the plan's codes there: no code of ours between the codes and the DiT.
Not reproduced: upstream's full constrained decoder of the metadata block (prefix trees for key, language and
genres; here the block is free text, parsed, and the song's fields win: prompt.py), and repetition penalty.
"""
