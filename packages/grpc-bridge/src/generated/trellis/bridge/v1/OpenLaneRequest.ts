// Original file: protos/trellis/bridge/v1/tool_service.proto


/**
 * OpenLane: see lane.proto for the lane itself.
 */
export interface OpenLaneRequest {
}

/**
 * OpenLane: see lane.proto for the lane itself.
 */
export interface OpenLaneRequest__Output {
}
