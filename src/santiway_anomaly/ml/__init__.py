"""The ML layer. Nothing here imports torch at package import: model modules do it themselves.

`errors` and `model_files` are torch-free so the API and the runner can check for a model cheaply.
"""
