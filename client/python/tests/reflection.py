"""A generic gRPC reflection client: what any tool without our protos would do.

grpcio-reflection ships only the v1alpha stubs, while tonic serves `grpc.reflection.v1` (and
the messages are identical on the wire), so the v1alpha messages are sent to the v1 method.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def _ask(channel: grpc.Channel, request: reflection_pb2.ServerReflectionRequest):
    call = channel.stream_stream(
        METHOD,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    (response,) = list(call(iter([request]), timeout=15))
    if response.HasField("error_response"):
        raise RuntimeError(response.error_response.error_message)
    return response


def list_services(channel: grpc.Channel) -> list[str]:
    """Names of every service the server offers."""
    response = _ask(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    return [s.name for s in response.list_services_response.service]


def describe_service(channel: grpc.Channel, service: str) -> list[str]:
    """Method names of `service`, read from the file descriptor the server sends."""
    response = _ask(channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=service))
    package, _, name = service.rpartition(".")
    for raw in response.file_descriptor_response.file_descriptor_proto:
        file = descriptor_pb2.FileDescriptorProto.FromString(raw)
        if file.package != package:
            continue
        for svc in file.service:
            if svc.name == name:
                return [m.name for m in svc.method]
    return []
