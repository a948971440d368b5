// Original file: protos/trellis/bridge/v1/host_service.proto


export interface LogResponse {
}

export interface LogResponse__Output {
}
