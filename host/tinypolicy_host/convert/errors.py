"""The converter's one error type: a user's model or flag it cannot take, printed as one `error:` line."""
from ..errors import UserError


class ConvertError(UserError):
    """e.g. `model.onnx: node 'Conv_3': op Conv is not an MLP layer`."""


def node_error(node, why: str) -> ConvertError:
    """ConvertError naming an ONNX node and its op."""
    return ConvertError(f"node '{node.name or node.output[0]}': op {node.op_type} {why}")
