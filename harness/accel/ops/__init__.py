"""Kernels: autograd Functions and Triton kernels, apart from any patching.

``lora`` (``LoraDelta``, ``LoraLinear``), ``swiglu_lora`` (``SwiGLULoraDown``) and
``lora_dropout`` (Triton kernels; imports triton) know nothing of peft, trl or transformers:
``harness/accel/patches`` reads those libraries' layers and calls these. Importing this
package imports nothing; each module imports torch.
"""
