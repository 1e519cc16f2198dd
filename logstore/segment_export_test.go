package logstore

import "os"

// SegmentRecordOffsets returns the offsets of the valid records of the
// segment file at path, followed by the offset just past the last one
// (where its end mark, or a torn write, is).
func SegmentRecordOffsets(path string) ([]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := parseSegHeader(b)
	if err != nil {
		return nil, err
	}
	var offs []int64
	sc, err := scanRecordsWith(b, h.key(), func(off int64) payloadFunc {
		return func([]byte, uint32) error {
			offs = append(offs, off)
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return append(offs, sc.end), nil
}

// SegmentFilesInUse returns the paths of the segment files the state file
// of the store in dir names (oldest to newest): not the next segment,
// which the store prepares ahead of time.
func SegmentFilesInUse(dir string) ([]string, error) {
	b, err := os.ReadFile(dir + "/" + segStateName)
	if err != nil {
		return nil, err
	}
	st, err := parseSegState(b)
	if err != nil {
		return nil, err
	}
	s := &SegmentStore{dir: dir}
	var paths []string
	for seq := st.lowest; seq <= st.highest; seq++ {
		paths = append(paths, s.segPath(seq))
	}
	return paths, nil
}
