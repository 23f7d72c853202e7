"""Pure imaging functions: validate, describe, window, render and archive DICOM instances (bytes in, bytes out).

Modules, one job each: `validate` (parse and reject bad input), `facts` (what an instance is), `window`
(stored values to 8-bit display), `render` (thumbnail/preview/full), `codecs` (frame encoders),
`transcode` (lossless archive copy), `pipeline` (all of it for one instance), `synthetic` (realistic test
images) and `quality` (PSNR/SSIM).
"""
