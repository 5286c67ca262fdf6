// yiwang_fuzz_seeds DIR: writes the seeds of each fuzz target (fuzz_seeds.cc) into
// DIR/<target>, one file per seed (seed-N). tests/fuzz/corpus/ was made with it; run it again
// after changing the seeds and commit what changed.

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/fuzz/fuzz_harness.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::pair<const char*, std::vector<std::string>> sets[] = {
      {"frame", yiwang::fuzz::FrameSeeds()},
      {"api", yiwang::fuzz::HttpSeeds()},
      {"key_codec", yiwang::fuzz::KeyCodecSeeds()},
      {"image", yiwang::fuzz::ImageSeeds()},
      {"open311", yiwang::fuzz::Open311Seeds()},
      {"case_machine", yiwang::fuzz::CaseMachineSeeds()}};
  for (const auto& [name, seeds] : sets) {
    std::filesystem::create_directories(dir / name);
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream out(dir / name / ("seed-" + std::to_string(i)), std::ios::binary);
      out.write(seeds[i].data(), static_cast<std::streamsize>(seeds[i].size()));
      if (!out) return 1;
    }
    std::printf("%zu seeds in %s\n", seeds.size(), (dir / name).c_str());
  }
  return 0;
}
