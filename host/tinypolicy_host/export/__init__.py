"""Export of a trained policy: ONNX, metadata.json, blobs, golden vectors."""
