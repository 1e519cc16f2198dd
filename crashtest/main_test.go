package crashtest

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) != "" {
		nodeMain()
		return
	}
	goleak.VerifyTestMain(m)
}
