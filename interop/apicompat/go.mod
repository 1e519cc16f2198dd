module github.com/pontoon-raft/raft/interop/apicompat

go 1.25.0

replace (
	github.com/pontoon-raft/raft => ../..
	github.com/pontoon-raft/raft/adapters/hcraft => ../../adapters/hcraft
)

require (
	github.com/hashicorp/raft v1.8.0
	github.com/pontoon-raft/raft/adapters/hcraft v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require (
	github.com/fatih/color v1.13.0 // indirect
	github.com/hashicorp/go-hclog v1.6.3 // indirect
	github.com/hashicorp/go-immutable-radix v1.3.1 // indirect
	github.com/hashicorp/go-metrics v0.7.0 // indirect
	github.com/hashicorp/go-msgpack/v2 v2.1.5 // indirect
	github.com/hashicorp/golang-lru v1.0.2 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.14 // indirect
	github.com/pontoon-raft/raft v0.0.0-00010101000000-000000000000 // indirect
	go.etcd.io/bbolt v1.4.3 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
