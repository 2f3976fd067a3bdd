"""The three corpus pipelines (text, image-text, audio-text): stage configs, wiring and the launcher."""
