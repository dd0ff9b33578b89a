"""Text entries in TensorBoard's TEXT tab under exactly the tag given (diagnoses, per-class tables)."""

from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from torch.utils.tensorboard import SummaryWriter


def write_text(writer: SummaryWriter, tag: str, text: str, step: int) -> None:
    """A TEXT entry under exactly `tag` (SummaryWriter.add_text would append "/text_summary")."""
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    tensor = TensorProto(
        dtype="DT_STRING",
        string_val=[text.encode()],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    writer._get_file_writer().add_summary(
        Summary(value=[Summary.Value(tag=tag, metadata=metadata, tensor=tensor)]), step
    )
    writer.flush()
