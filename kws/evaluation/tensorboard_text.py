"""Text entries in TensorBoard's TEXT tab under exactly the tag given (diagnoses, per-class tables)."""

from contextlib import closing

from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.writer import FileWriter


def write_text(writer: SummaryWriter, tag: str, text: str, step: int) -> None:
    """A TEXT entry under exactly `tag` (SummaryWriter.add_text would append "/text_summary")."""
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    tensor = TensorProto(
        dtype="DT_STRING",
        string_val=[text.encode()],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    summary = Summary(value=[Summary.Value(tag=tag, metadata=metadata, tensor=tensor)])
    if writer.file_writer is not None:
        writer.file_writer.add_summary(summary, step)
        writer.flush()
        return
    # Closed (Lightning closes its logger's writer when a stage ends): a new event file, as add_* would open.
    with closing(FileWriter(writer.log_dir)) as file_writer:
        file_writer.add_summary(summary, step)
