"""Python side of akidb-embed: model preparation, the bridge service, reference tools."""
