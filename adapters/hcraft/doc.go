// Package raft is hashicorp/raft v1.8.0's public API on Pontoon.
package raft
