// Deadlines, libvips error conversion, loading and the colour policy.
#include <spdlog/spdlog.h>

#include "imaging/detail.hpp"

namespace progimage::imaging::detail {

using core::Error;
using core::ErrorCode;

void Deadline::check(std::string_view what) const {
  if (expired()) {
    throw Error(ErrorCode::timeout, std::string(what) + " took longer than " +
                                        std::to_string(budget_.count()) + " ms");
  }
}

KillSwitch::KillSwitch(const vips::VImage& image, const Deadline& deadline)
    : image_(image), deadline_(deadline) {
  vips_image_set_progress(image_.get_image(), TRUE);
  handler_ = g_signal_connect(image_.get_image(), "eval", G_CALLBACK(&KillSwitch::on_eval), this);
}

KillSwitch::~KillSwitch() {
  if (handler_ != 0) g_signal_handler_disconnect(image_.get_image(), handler_);
  vips_image_set_progress(image_.get_image(), FALSE);
}

void KillSwitch::on_eval(VipsImage* image, VipsProgress* progress, void* self) {
  auto* ks = static_cast<KillSwitch*>(self);
  if (!ks->deadline_.expired()) return;
  ks->fired_ = true;
  // The threadpool polls the kill flag of the image it computes, which may be
  // a saver's copy downstream of ours: set both.
  vips_image_set_kill(image, TRUE);
  if (progress != nullptr && progress->im != nullptr) vips_image_set_kill(progress->im, TRUE);
}

void rethrow_vips(const vips::VError& e, ErrorCode code, const std::string& message,
                  const KillSwitch* kill) {
  if (kill != nullptr && kill->fired()) {
    spdlog::warn("libvips stopped at the deadline: {}", e.what());
    throw Error(ErrorCode::timeout, "image processing took too long");
  }
  spdlog::info("libvips: {}", e.what());
  throw Error(code, message);
}


}  // namespace progimage::imaging::detail
