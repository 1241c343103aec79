"""The committed Python of ``extensions.proto`` is what protoc makes of it now."""

from __future__ import annotations

from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2

from stepline.gateway import extensions_pb2, extensions_pb2_grpc, protos


def test_the_committed_descriptor_is_the_proto_as_it_stands(tmp_path: Path) -> None:
    fresh = descriptor_pb2.FileDescriptorSet.FromString(protos.descriptor_set(tmp_path / "set"))
    committed = descriptor_pb2.FileDescriptorProto.FromString(
        extensions_pb2.DESCRIPTOR.serialized_pb
    )

    assert [f.name for f in fresh.file] == ["stepline/gateway/extensions.proto"]
    for message in fresh.file[0].message_type:  # the generated module leaves them out
        for field in message.field:
            field.ClearField("json_name")
    assert fresh.file[0] == committed, "run `make protos` and commit what it writes"


def test_every_rpc_of_the_proto_has_a_method_on_its_generated_stub() -> None:
    with grpc.insecure_channel("127.0.0.1:1") as channel:  # never connected
        for service in extensions_pb2.DESCRIPTOR.services_by_name.values():
            stub = getattr(extensions_pb2_grpc, f"{service.name}Stub")(channel)
            for method in service.methods:
                assert callable(getattr(stub, method.name)), (service.name, method.name)
