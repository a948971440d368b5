// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface DescribeRequest {
}

export interface DescribeRequest__Output {
}
