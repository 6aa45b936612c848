print("bpfcp-top")
