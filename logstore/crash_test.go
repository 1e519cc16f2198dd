package logstore_test

const crashChildEnv = "PONTOON_LOGSTORE_CRASH_CHILD"

func crashChild() {}
