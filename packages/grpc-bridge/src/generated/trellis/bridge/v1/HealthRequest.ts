// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
