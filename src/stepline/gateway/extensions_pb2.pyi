from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class RedriveExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class RedriveExecutionResponse(_message.Message):
    __slots__ = ("execution_id", "redrive_count")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REDRIVE_COUNT_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    redrive_count: int
    def __init__(self, execution_id: _Optional[str] = ..., redrive_count: _Optional[int] = ...) -> None: ...

class PauseExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class PauseExecutionResponse(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ResumeExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ResumeExecutionResponse(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class SendTaskSuccessRequest(_message.Message):
    __slots__ = ("task_token", "output_json")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    task_token: str
    output_json: str
    def __init__(self, task_token: _Optional[str] = ..., output_json: _Optional[str] = ...) -> None: ...

class SendTaskSuccessResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendTaskFailureRequest(_message.Message):
    __slots__ = ("task_token", "error_code", "message")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_token: str
    error_code: str
    message: str
    def __init__(self, task_token: _Optional[str] = ..., error_code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SendTaskFailureResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendTaskHeartbeatRequest(_message.Message):
    __slots__ = ("task_token",)
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    task_token: str
    def __init__(self, task_token: _Optional[str] = ...) -> None: ...

class SendTaskHeartbeatResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
