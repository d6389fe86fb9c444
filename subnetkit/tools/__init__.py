"""Developer tools above the neurons: protobuf code generation and the subnet scaffold."""
