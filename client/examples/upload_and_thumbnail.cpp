// Uploads a file, prints a signed 300x300 thumbnail URL valid for an hour,
// and downloads that thumbnail as WebP.
//
//   PROGIMAGE_URL=http://127.0.0.1:8080 upload_and_thumbnail photo.jpg thumb.webp
#include <progimage/progimage.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " FILE [OUT.webp]\n";
    return 2;
  }
  const std::string out = argc > 2 ? argv[2] : "thumbnail.webp";
  try {
    progimage::Client client(progimage::ClientOptions::from_env());
    progimage::Image image = client.upload_file(argv[1], {.tags = {"example"}});
    std::cout << (image.duplicate ? "already stored as " : "stored as ") << image.id << " (" << image.width << "x"
              << image.height << " " << image.format << ")\n";

    const auto thumbnail = progimage::Transform{}.width(300).height(300).fit(progimage::Fit::cover);
    std::cout << "thumbnail URL: "
              << client.url(image.id, thumbnail, {.extension = "webp", .expires_in = std::chrono::hours(1)}) << "\n";

    progimage::Download d =
        client.download(image.id, out, progimage::Transform{thumbnail}.format(progimage::Format::webp));
    std::cout << "wrote " << out << ": " << d.size << " bytes of " << d.content_type << "\n";
  } catch (const progimage::Error& e) {
    std::cerr << "error: " << e.code() << " (HTTP " << e.status() << "): " << e.what()
              << (e.request_id().empty() ? "" : " [request " + e.request_id() + "]") << "\n";
    return 1;
  }
  return 0;
}
